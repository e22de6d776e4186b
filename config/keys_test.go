package config

import "reflect"

// The keys the decoder knows, read from the struct tags that define them,
// for the tests that check the example configuration shows each one.
var (
	targetKeys     = keysOf[targetSpec]()
	tlsKeys        = keysOf[TLS]()
	credentialKeys = keysOf[Credentials]()
)

func keysOf[T any]() map[string]bool {
	keys := map[string]bool{}
	for f := range reflect.TypeFor[T]().Fields() {
		keys[yamlKey(f)] = true
	}
	return keys
}
