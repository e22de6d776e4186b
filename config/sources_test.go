package config

import (
	"reflect"
	"testing"
)

func TestKeySources(t *testing.T) {
	for _, c := range []struct {
		name  string
		creds Credentials
		want  []KeySource
	}{
		{"inline", Credentials{AccessKey: "AK", SecretKey: "SK"}, []KeySource{
			{"access_key", "inline", ""}, {"secret_key", "inline", ""}, {"security_token", "not set", ""}}},
		{"files", Credentials{AccessKeyFile: "/s/ak", SecretKeyFile: "/s/sk", SecurityTokenFile: "/s/token"}, []KeySource{
			{"access_key", "file", "/s/ak"}, {"secret_key", "file", "/s/sk"}, {"security_token", "file", "/s/token"}}},
		{"env", Credentials{Env: true}, []KeySource{
			{"access_key", "env", "HUAWEICLOUD_SDK_AK"}, {"secret_key", "env", "HUAWEICLOUD_SDK_SK"}, {"security_token", "env", "HUAWEICLOUD_SDK_SECURITY_TOKEN"}}},
		{"metadata", Credentials{Metadata: true, MetadataEndpoint: DefaultMetadataEndpoint}, []KeySource{
			{"access_key", "metadata", DefaultMetadataEndpoint}, {"secret_key", "metadata", DefaultMetadataEndpoint}, {"security_token", "metadata", DefaultMetadataEndpoint}}},
	} {
		if got := c.creds.KeySources(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
