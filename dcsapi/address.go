// This file reads the listing's connection fields, which service discovery
// turns into scrape targets: the addresses, the port, the domain name and
// whether a password or TLS is needed.

package dcsapi

import (
	"math"
	"strings"
)

// connection fills in's connection fields from w. Each field stands alone:
// one sent with a type that cannot mean it is left empty.
func (w *wireInstance) connection(in *Instance) {
	in.IPs = splitIPs(string(w.IP))
	// port is an int32 in InstanceListInfo (SDK v0.1.207,
	// model_instance_list_info.go); a value that is no TCP port is no port.
	if p := float64(w.Port); p >= 1 && p <= math.MaxUint16 && p == math.Trunc(p) {
		in.Port = int(p)
	}
	in.DomainName = string(w.DomainName)
	if w.NoPasswordAccess.set {
		v := w.NoPasswordAccess.value
		in.NoPasswordAccess = &v
	}
	if w.EnableSSL.set {
		v := w.EnableSSL.value
		in.EnableSSL = &v
	}
}

// splitIPs splits the list API's ip field. It is one string, holding
// several addresses "separated by commas" for a cluster instance
// (InstanceListInfo.Ip, SDK v0.1.207; api-ref "Querying All DCS
// Instances"; docs/api-facts.md §6.2). The SDK's own description writes
// the example with a full-width comma, so that separates too. Blanks around an address and
// empty entries are dropped; the addresses are not otherwise judged here.
func splitIPs(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var ips []string
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == '，' }) {
		if part = strings.TrimSpace(part); part != "" {
			ips = append(ips, part)
		}
	}
	return ips
}

// boolText takes a JSON boolean or the strings "true" and "false" (any
// case); anything else is unset. no_password_access is a string in
// InstanceListInfo (SDK v0.1.207, NoPasswordAccess *string) and a boolean
// in the api-ref's example answer, so both spellings are read.
type boolText struct{ set, value bool }

func (v *boolText) UnmarshalJSON(b []byte) error {
	*v = boolText{}
	if len(b) >= 2 && b[0] == '"' {
		b = b[1 : len(b)-1]
	}
	switch {
	case strings.EqualFold(string(b), "true"):
		*v = boolText{set: true, value: true}
	case strings.EqualFold(string(b), "false"):
		*v = boolText{set: true}
	}
	return nil
}
