package sdkcompat

import (
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	dcs "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/dcs/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/dcs/v2/model"

	"github.com/dcs-exporter/dcs_exporter/bench/callbench"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// sdkCall returns the official SDK's status call, configured as a user of
// the SDK would (default HTTP settings, no retries), except that it shares
// the fixture's transport so that it uses the same connection as the
// others.
func sdkCall(b *testing.B, f *callbench.Fixture) func() {
	cred, err := basic.NewCredentialsBuilder().
		WithAk(dcsapitest.TestAccessKey).
		WithSk(dcsapitest.TestSecretKey).
		WithProjectId(callbench.ProjectID).
		SafeBuild()
	if err != nil {
		b.Fatal(err)
	}
	hc, err := dcs.DcsClientBuilder().
		WithEndpoints([]string{f.BaseURL}).
		WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithHttpTransport(f.Transport).WithRetries(0)).
		SafeBuild()
	if err != nil {
		b.Fatal(err)
	}
	client := dcs.NewDcsClient(hc)
	includeFailure := "true"
	req := &model.ListNumberOfInstancesInDifferentStatusRequest{IncludeFailure: &includeFailure}
	return func() {
		resp, err := client.ListNumberOfInstancesInDifferentStatus(req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.RunningCount == nil || resp.Redis == nil {
			b.Fatalf("incomplete answer: %v", resp)
		}
	}
}

// BenchmarkStatusCall measures each client on its own: ns/op, allocs/op and
// the process CPU time per call (cpu-ns/op).
func BenchmarkStatusCall(b *testing.B) {
	f := callbench.Open(b)
	b.Run("bare", func(b *testing.B) { callbench.Bare(b, f) })
	b.Run("dcsapi", func(b *testing.B) { callbench.Dcsapi(b, f) })
	b.Run("sdk", func(b *testing.B) { callbench.Measure(b, sdkCall(b, f)) })
}

// BenchmarkStatusCallCompare is figure 2 of the benchmark suite
// (bench/cmd/dcsbench): the three clients take turns in blocks against one
// fake API over one connection pool, and each gets its CPU time and
// allocations per call (NAME-cpu-ns/op, NAME-allocs/op).
func BenchmarkStatusCallCompare(b *testing.B) {
	f := callbench.Open(b)
	callbench.Compare(b,
		callbench.Call{Name: "bare", Do: callbench.BareCall(b, f)},
		callbench.Call{Name: "dcsapi", Do: callbench.DcsapiCall(b, f)},
		callbench.Call{Name: "dcsapi_changing", Do: callbench.DcsapiChangingCall(b, f)},
		callbench.Call{Name: "sdk", Do: sdkCall(b, f)},
	)
}
