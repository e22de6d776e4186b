package callbench

import "testing"

// BenchmarkStatusCall measures dcsapi and a bare GET one after the other;
// BenchmarkStatusCallCompare measures them taking turns, which is steadier.
// tools/sdkcompat runs the same next to the official SDK.
func BenchmarkStatusCall(b *testing.B) {
	f := Open(b)
	b.Run("bare", func(b *testing.B) { Bare(b, f) })
	b.Run("dcsapi", func(b *testing.B) { Dcsapi(b, f) })
}

func BenchmarkStatusCallCompare(b *testing.B) {
	f := Open(b)
	Compare(b, Call{"bare", BareCall(b, f)}, Call{"dcsapi", DcsapiCall(b, f)}, Call{"dcsapi_changing", DcsapiChangingCall(b, f)})
}
