package checks

import (
	"reflect"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/config"
)

func TestKeySources(t *testing.T) {
	for _, c := range []struct {
		name  string
		creds config.Credentials
		want  []keySource
	}{
		{"inline", config.Credentials{AccessKey: "AK", SecretKey: "SK"}, []keySource{
			{"access_key", "inline", ""}, {"secret_key", "inline", ""}, {"security_token", "not set", ""}}},
		{"files", config.Credentials{AccessKeyFile: "/s/ak", SecretKeyFile: "/s/sk", SecurityTokenFile: "/s/token"}, []keySource{
			{"access_key", "file", "/s/ak"}, {"secret_key", "file", "/s/sk"}, {"security_token", "file", "/s/token"}}},
		{"env", config.Credentials{Env: true}, []keySource{
			{"access_key", "env", "HUAWEICLOUD_SDK_AK"}, {"secret_key", "env", "HUAWEICLOUD_SDK_SK"}, {"security_token", "env", "HUAWEICLOUD_SDK_SECURITY_TOKEN"}}},
		{"metadata", config.Credentials{Metadata: true, MetadataEndpoint: config.DefaultMetadataEndpoint}, []keySource{
			{"access_key", "metadata", config.DefaultMetadataEndpoint}, {"secret_key", "metadata", config.DefaultMetadataEndpoint}, {"security_token", "metadata", config.DefaultMetadataEndpoint}}},
	} {
		if got := keySources(c.creds); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
