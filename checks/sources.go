package checks

// This file says where each credential key of a target comes from, without
// its value, for --config.check.

import (
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// keySource says where one credential key comes from.
type keySource struct {
	Key string // access_key, secret_key or security_token
	// Kind is "inline", "file", "env", "metadata" or "not set".
	Kind string
	// Where is the file path, the environment variable name or the
	// metadata endpoint; empty for inline and unset keys.
	Where string
}

// keySources returns the source of each credential key, in the order
// access_key, secret_key, security_token.
func keySources(c config.Credentials) []keySource {
	keys := [3]string{"access_key", "secret_key", "security_token"}
	out := make([]keySource, 3)
	switch c.Source() {
	case config.CredentialsEnv:
		for i, env := range [3]string{dcsapi.EnvAccessKey, dcsapi.EnvSecretKey, dcsapi.EnvSecurityToken} {
			out[i] = keySource{Key: keys[i], Kind: "env", Where: env}
		}
		return out
	case config.CredentialsMetadata:
		for i := range keys {
			out[i] = keySource{Key: keys[i], Kind: "metadata", Where: c.MetadataEndpoint}
		}
		return out
	}
	inline := [3]bool{c.AccessKey != "", c.SecretKey != "", c.SecurityToken != ""}
	files := [3]string{c.AccessKeyFile, c.SecretKeyFile, c.SecurityTokenFile}
	for i := range keys {
		switch {
		case files[i] != "":
			out[i] = keySource{Key: keys[i], Kind: "file", Where: files[i]}
		case inline[i]:
			out[i] = keySource{Key: keys[i], Kind: "inline"}
		default:
			out[i] = keySource{Key: keys[i], Kind: "not set"}
		}
	}
	return out
}
