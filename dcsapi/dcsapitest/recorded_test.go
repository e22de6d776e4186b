package dcsapitest_test

// Requests recorded off the wire, made by the official SDK
// (../testdata/sdk_requests.json, tools/sdkcompat/cmd/sdkrequests) and by
// the exporter's client (../testdata/client_requests.json): the fake must
// accept each as it was sent, and refuse it, for its signature, once its
// path, query, a signed header, its date or its token is changed.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const (
	recordedProject = "0123456789abcdef0123456789abcdef"
	otherProject    = "fedcba9876543210fedcba9876543210"
)

// recordedFake is a fake that knows the recordings' keys, projects and
// date; every case gets its own, so that refusals cannot lock a key out.
func recordedFake(t *testing.T, recs *dcsapitest.Recordings) (*dcsapitest.Server, *http.Client) {
	t.Helper()
	date, err := time.Parse("20060102T150405Z", recs.Date)
	if err != nil {
		t.Fatal(err)
	}
	fake := dcsapitest.NewServer()
	fake.SetClock(func() time.Time { return date })
	fake.AddProject("cn-north-4", recordedProject)
	fake.AddProject("cn-north-1", otherProject)
	fake.SetInstances(recordedProject, dcsapitest.SampleFleet(3))
	for _, r := range recs.Requests {
		h, _, err := r.Header()
		if err != nil {
			t.Fatal(err)
		}
		if token := h.Get("X-Security-Token"); token != "" {
			fake.AddTemporaryKey(r.AccessKey, r.SecretKey, token)
		} else {
			fake.AddKey(r.AccessKey, r.SecretKey)
		}
	}
	wire := dcsapitest.NewWireRecorder(strings.TrimPrefix(fake.URL, "http://"))
	t.Cleanup(func() {
		fake.Close()
		wire.Transport.CloseIdleConnections()
	})
	return fake, &http.Client{Transport: wire.Transport, Timeout: 10 * time.Second}
}

// asServerSees turns a recording into the request a server reads.
func asServerSees(t *testing.T, rec dcsapitest.RecordedRequest) *http.Request {
	t.Helper()
	u, err := url.Parse(rec.URL)
	if err != nil {
		t.Fatal(err)
	}
	h, host, err := rec.Header()
	if err != nil {
		t.Fatal(err)
	}
	h.Del("Host")
	return &http.Request{Method: rec.Method, URL: &url.URL{Path: u.Path, RawQuery: u.RawQuery}, Host: host, Header: h}
}

// sendRecorded sends a recording as it is and returns the status and the
// gateway's error code.
func sendRecorded(t *testing.T, client *http.Client, rec dcsapitest.RecordedRequest) (int, string) {
	t.Helper()
	req, err := http.NewRequest(rec.Method, rec.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, host, err := rec.Header()
	if err != nil {
		t.Fatal(err)
	}
	h.Del("Host")
	req.Header, req.Host = h, host
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Code string `json:"error_code"`
	}
	if resp.StatusCode >= 400 {
		_ = json.Unmarshal(body, &e)
	}
	return resp.StatusCode, e.Code
}

// A tampering changes a copy of a recording, or says it does not apply.
type tampering struct {
	kind  string
	apply func(rec *dcsapitest.RecordedRequest) bool
}

func setHeader(rec *dcsapitest.RecordedRequest, name, value string) {
	for i, line := range rec.Headers {
		if n, _, _ := strings.Cut(line, ": "); strings.EqualFold(n, name) {
			rec.Headers[i] = n + ": " + value
		}
	}
}

func editURL(rec *dcsapitest.RecordedRequest, edit func(u *url.URL)) {
	u, err := url.Parse(rec.URL)
	if err != nil {
		panic(err)
	}
	edit(u)
	rec.URL = u.String()
}

var tamperings = []tampering{
	{"path", func(rec *dcsapitest.RecordedRequest) bool {
		editURL(rec, func(u *url.URL) {
			if strings.Contains(u.Path, recordedProject) {
				u.Path = strings.Replace(u.Path, recordedProject, otherProject, 1)
			} else {
				u.Path += "x"
			}
		})
		return true
	}},
	{"query", func(rec *dcsapitest.RecordedRequest) bool {
		applies := false
		editURL(rec, func(u *url.URL) {
			key, value, ok := strings.Cut(strings.Split(u.RawQuery, "&")[0], "=")
			if !ok {
				return
			}
			changed := value + "x"
			switch last := value[len(value)-1]; {
			case value == "true":
				changed = "false"
			case last >= '0' && last <= '9':
				changed = value[:len(value)-1] + strconv.Itoa(int(last-'0'+1)%10)
			}
			u.RawQuery = strings.Replace(u.RawQuery, key+"="+value, key+"="+changed, 1)
			applies = true
		})
		return applies
	}},
	{"signed header", func(rec *dcsapitest.RecordedRequest) bool {
		h, host, _ := rec.Header()
		auth, err := dcsapitest.ParseAuthorization(h.Get("Authorization"))
		if err != nil {
			return false
		}
		// Another header than the date and the token, which have their own
		// cases; the host only when nothing else is signed.
		for _, name := range auth.SignedHeaders {
			if name != "x-sdk-date" && name != "x-security-token" && name != "host" {
				setHeader(rec, name, h.Get(name)+"x")
				return true
			}
		}
		for _, name := range auth.SignedHeaders {
			if name == "host" {
				setHeader(rec, "Host", "dcs.cn-north-1.myhuaweicloud.com")
				return host != "dcs.cn-north-1.myhuaweicloud.com"
			}
		}
		return false
	}},
	{"date", func(rec *dcsapitest.RecordedRequest) bool {
		h, _, _ := rec.Header()
		d, err := time.Parse("20060102T150405Z", h.Get("X-Sdk-Date"))
		if err != nil {
			return false
		}
		// One second later: well within the allowed skew, so only the
		// signature can catch it.
		setHeader(rec, "X-Sdk-Date", d.Add(time.Second).Format("20060102T150405Z"))
		return true
	}},
	{"token", func(rec *dcsapitest.RecordedRequest) bool {
		h, _, _ := rec.Header()
		token := h.Get("X-Security-Token")
		if token == "" {
			return false
		}
		setHeader(rec, "X-Security-Token", token[:len(token)-1]+"A")
		return true
	}},
}

func testRecorded(t *testing.T, file string, wantRequests int) {
	recs, err := dcsapitest.ReadRecordings(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs.Requests) < wantRequests {
		t.Fatalf("%s holds %d requests, want at least %d", file, len(recs.Requests), wantRequests)
	}
	date, err := time.Parse("20060102T150405Z", recs.Date)
	if err != nil {
		t.Fatal(err)
	}
	applied := map[string]int{}
	for _, rec := range recs.Requests {
		t.Run(rec.Name, func(t *testing.T) {
			_, client := recordedFake(t, recs)
			if code, gw := sendRecorded(t, client, rec); code != http.StatusOK {
				t.Fatalf("the fake refused the recorded request: HTTP %d %s", code, gw)
			}
			secret := func(ak string) (string, bool) { return rec.SecretKey, ak == rec.AccessKey }
			if err := dcsapitest.VerifySignature(asServerSees(t, rec), nil, secret, date); err != nil {
				t.Fatalf("VerifySignature refuses the recorded request: %v", err)
			}
			for _, tm := range tamperings {
				changed := rec
				changed.Headers = append([]string(nil), rec.Headers...)
				if !tm.apply(&changed) {
					continue
				}
				applied[tm.kind]++
				err := dcsapitest.VerifySignature(asServerSees(t, changed), nil, secret, date)
				var se *dcsapitest.SignatureError
				if !errors.As(err, &se) || se.Reason != "verify aksk signature fail" {
					t.Errorf("%s changed (%s): VerifySignature says %v, want a signature mismatch", tm.kind, changed.URL, err)
				}
				_, client := recordedFake(t, recs)
				code, gw := sendRecorded(t, client, changed)
				switch {
				case code == http.StatusUnauthorized && gw == "APIGW.0301":
				case tm.kind == "path" && code == http.StatusNotFound && gw == "APIGW.0101":
					// The changed path is no API at all; the gateway routes
					// before it checks signatures.
				default:
					t.Errorf("%s changed (%s): HTTP %d %s, want 401 APIGW.0301", tm.kind, changed.URL, code, gw)
				}
			}
		})
	}
	for _, tm := range tamperings {
		if applied[tm.kind] == 0 {
			t.Errorf("no request of %s could be tampered with by %s", file, tm.kind)
		}
	}
}

func TestSDKRecordedRequests(t *testing.T) {
	testRecorded(t, "../testdata/sdk_requests.json", 5)
}

func TestClientRecordedRequests(t *testing.T) {
	testRecorded(t, "../testdata/client_requests.json", 5)
}
