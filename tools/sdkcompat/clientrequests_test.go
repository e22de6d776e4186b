package sdkcompat

// The exporter's client against the SDK, request by request: the requests
// the client really sends (captured off the wire by dcsapi's
// TestClientRequestsCaptured) are signed again by the SDK's signer, with the
// same method, URL and signed headers, and the Authorization headers must be
// the same bytes.

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const clientRequestsFile = "../../dcsapi/testdata/client_requests.json"

func TestClientRequestsMatchSDK(t *testing.T) {
	recs, err := dcsapitest.ReadRecordings(clientRequestsFile)
	if err != nil {
		t.Fatal(err)
	}
	// The kinds of request the exporter makes, each of which must be there.
	for _, want := range []string{"status_v2", "status_v1", "list_instances_page", "iam_project_lookup", "status_v2_security_token", "iam_project_lookup_security_token"} {
		found := false
		for _, r := range recs.Requests {
			found = found || r.Name == want
		}
		if !found {
			t.Errorf("%s has no request %s", clientRequestsFile, want)
		}
	}
	for _, rec := range recs.Requests {
		t.Run(rec.Name, func(t *testing.T) {
			header, _, err := rec.Header()
			if err != nil {
				t.Fatal(err)
			}
			sent := header.Get("Authorization")
			auth, err := dcsapitest.ParseAuthorization(sent)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(rec.URL)
			if err != nil {
				t.Fatal(err)
			}
			b := request.NewHttpRequestBuilder().
				WithEndpoint(u.Scheme + "://" + u.Host).
				WithPath(u.Path).
				WithMethod(rec.Method)
			query, err := url.ParseQuery(u.RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range query {
				// The SDK takes a query value only as a reflect.Value, and a
				// repeated key as one slice.
				if len(vs) == 1 {
					b = b.AddQueryParam(k, reflect.ValueOf(vs[0]))
				} else {
					b = b.AddQueryParam(k, reflect.ValueOf(vs))
				}
			}
			for _, name := range auth.SignedHeaders {
				var values []string
				var spelled string
				for k, vs := range header {
					if strings.EqualFold(k, name) {
						spelled, values = k, vs
					}
				}
				if len(values) != 1 {
					t.Fatalf("signed header %s has %d values on the wire", name, len(values))
				}
				b = b.AddHeaderParam(spelled, values[0])
			}
			added, err := signer.Signer{}.Sign(b.Build(), auth.AccessKey, rec.SecretKey)
			if err != nil {
				t.Fatal(err)
			}
			if got := added[signer.HeaderAuthorization]; got != sent {
				t.Errorf("Authorization differs\nclient: %s\n   SDK: %s", sent, got)
			}
			if got := added[signer.HeaderXDate]; got != recs.Date || header.Get("X-Sdk-Date") != recs.Date {
				t.Errorf("X-Sdk-Date: SDK %s, client %s, want %s", got, header.Get("X-Sdk-Date"), recs.Date)
			}
		})
	}
}
